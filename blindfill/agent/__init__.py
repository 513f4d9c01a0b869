"""The browser side: attach to Chromium, inject the shim, run sign-ins."""
