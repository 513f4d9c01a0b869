"""The demo login site served on 127.0.0.1."""
