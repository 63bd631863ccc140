"""HTTP interface of the performance service."""
