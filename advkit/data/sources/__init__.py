"""Built-in data sources: digits, mnist, npz, imagefolder."""
