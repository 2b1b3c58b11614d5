retry = 1
true = False
def subtest(polling_condition):
    return polling_condition
