"""Sans-IO protocol core: frames, messages, pairing, per-fill sessions."""
