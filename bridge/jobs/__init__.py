"""The passes: dispatch, harvest, health, inbound (with the rules) and
webhook delivery. Each is a plain function of a session (or a session
factory) that does one pass and says what it did; ``passes`` runs one in
its own transaction, for the scheduler and the CLI's ``job`` commands alike.
Nothing outside this package and ``bridge.server`` imports a pass."""
