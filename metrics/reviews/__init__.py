"""What customer success managers do with a flag, and who looked at what: the reviews store
(a SQLite file beside the analytics file, which builds never replace) and what is derived
from it (the queue, the digest, whether outreach helps)."""
