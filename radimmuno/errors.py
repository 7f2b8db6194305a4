"""Error pages: an API client gets JSON it can parse (``{"detail": ...}``), a browser the site's page."""
from django.http import JsonResponse
from django.views import defaults


def _is_api(request):
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    if _is_api(request):
        return JsonResponse({"detail": "Not found: no such URL or record."}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if _is_api(request):
        return JsonResponse({"detail": "Server error: the request could not be completed; it has been logged."},
                            status=500)
    return defaults.server_error(request)
