# TEMPORARY STUB (untracked)
def requires_approval(clusters):
    return False


def check_approver(*, approver, requester):
    pass


def approval_record(**kw):
    pass
