"""The user side: vaults, origin matching, decisions, audit, service."""
