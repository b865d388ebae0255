"""Written for the Kaggle dicts but run on a tuple phase: fails with a message that teaches."""


def unlearning(net, retain_loader, forget_loader, val_loader):
    for sample in retain_loader:
        net(sample["image"])
