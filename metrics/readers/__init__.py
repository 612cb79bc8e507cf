"""What the app and notebooks ask of a built file, read-only: the store, the catalog of
COMMENTs, and the views each page draws, each filtered by the sites the viewer may see."""
