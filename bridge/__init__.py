"""smsbridge: the bridge between an HTTP API and Gammu SMSD daemons."""
