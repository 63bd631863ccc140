"""Development and test tools (local brokers, throwaway PostgreSQL, dev tokens); never in the image."""
