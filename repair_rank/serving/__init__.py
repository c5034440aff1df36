"""Pipeline step 9: the HTTP endpoint (request protocol, server, client)."""
