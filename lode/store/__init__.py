"""The store: content-addressed objects and links, hashes, output records, the `.dir`
manifest, listing, the stat cache, pointers, dvc.lock, the run cache, checkout planning
and the transfer engine. It knows files and formats, never stages or commands."""
