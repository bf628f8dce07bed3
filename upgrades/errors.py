"""obshell's error model: a dotted errCode whose kind is the HTTP status (spec 1.2 and 1.3)."""


class ObshellError(Exception):
    """An error every layer can raise; the API renders it as the envelope's `error`."""

    def __init__(self, err_code, message, *, status=400, code=None):
        super().__init__(message)
        self.err_code = err_code
        self.message = message
        self.status = status
        self.code = code

    def as_dict(self):
        error = {"errCode": self.err_code, "message": self.message}
        if self.code is not None:
            error = {"code": self.code, **error}
        return error

    def __repr__(self):
        return f"ObshellError({self.err_code!r}, {self.message!r}, status={self.status})"


def bad_request(err_code, message, **kw):
    return ObshellError(err_code, message, status=400, **kw)


def unauthorized(err_code, message, *, code=10008):
    return ObshellError(err_code, message, status=401, code=code)


def not_found(err_code, message):
    return ObshellError(err_code, message, status=404)


def server_error(err_code, message):
    """obshell's "known" kind: conflicts and server-side failures are 500, never 409."""
    return ObshellError(err_code, message, status=500)


def maintenance_in_progress(*, holder_name, dag_name=""):
    """500 OB.Cluster.UnderMaintenanceWithDag, worded as obshell's DAG creation wraps it."""
    inner = f"OceanBase cluster is under maintenance by DAG: {holder_name}, please try again later"
    message = f"Create task '{dag_name}' failed: {inner}" if dag_name else inner
    return server_error("OB.Cluster.UnderMaintenanceWithDag", message)
