"""Built-in data sources: digits, mnist, npz, imagefolder, cifar10, cifar100, imagenet."""
