"""The user side: vaults, origin matching, decisions, audit, service.

Where data enters, is decided and leaves:

* `request`: the fill request as the decision engine receives it.
* `origins`, `matching`: origins parsed and shown; items matched to them.
* `items`, `vault`, `vaultfile`, `kdbx`, `csvimport`: what a vault holds,
  blindfill's own encrypted file, KeePass databases, CSV imports, and
  `VaultAccess`, the lockable view the approver keeps.
* `decisions`: `DecisionEngine`, which the approver service calls; with
  `prompt` (the person), `policy` (rules), `ratelimit` and `text` (cleaning
  untrusted text for a terminal).
* `audit`: the append-only, hash-chained record of every decision.
* `testing`: in-memory vault and scripted prompt for tests.

Submodules are imported on demand; this package imports nothing itself.
"""
