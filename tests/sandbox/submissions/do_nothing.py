# The smallest valid submission: leaves the model as it is.
def unlearning(net, retain_loader, forget_loader, val_loader):
    pass
