"""Data lifecycle: hot → warm → cold tiering, and right-to-be-forgotten purges."""
