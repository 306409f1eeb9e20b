"""Auth channels: sign-outs and claim changes reach live pages in every process."""
