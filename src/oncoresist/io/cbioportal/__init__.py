"""cBioPortal study folders: reading and writing the published file formats."""
