# Not an attack: an ordinary bug. The participant must get the exception category and a
# traceback of their own frames (not the runner's).
# expect: exception
# message: ZeroDivisionError
def _helper_that_divides(count):
    return 1 / count


def unlearning(net, retain_loader, forget_loader, val_loader):
    _helper_that_divides(0)
