"""pytest plugin, registered through the `pytest11` entry point.

Fixtures for end-to-end tests of a user's own login pages are added here as
the sign-in flow grows; loading the plugin has no side effects.
"""
