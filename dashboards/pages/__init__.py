"""The app's pages, one module each, registered with Dash's page registry."""
