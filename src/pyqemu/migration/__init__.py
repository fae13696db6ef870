"""Migration and snapshots: state descriptions, savevm/loadvm, live migration."""
