"""CLI commands, one per module: parse options, call the API, print. No logic lives here."""
