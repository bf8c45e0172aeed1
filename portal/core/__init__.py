"""The core: users, profiles, visibility, clients, contacts and activities."""
