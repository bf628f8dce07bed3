class ApiEnvelopeMiddleware:
    """Wraps every /api/ response in obshell's envelope (filled in by the API work)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)
