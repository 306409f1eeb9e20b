import os
from pywire import PyWire
from pywire_auth import LocalIdP, SQLAlchemyAuthStore, connect_auth
app = PyWire(pages_dir="src/pages")
store = SQLAlchemyAuthStore(
os.environ.get("LOCAL_AUTH_DB", "sqlite+aiosqlite:///./local-auth.db")
)
idp = LocalIdP(store=store) # reads LOCAL_IDP_SECRET from env
connect_auth(app, local_idp=idp)
