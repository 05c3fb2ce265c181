"""The product's URLs plus a bare Django JSON view: the intake benchmark's floor.

The bare view does what every JSON endpoint must do at least (parse the body, answer
a small JSON object) behind the same middleware, and nothing else.
"""

import json

from django.http import JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from dsr.urls import *
from dsr.urls import urlpatterns as product_urlpatterns


@csrf_exempt
@require_POST
def bare(request):
    try:
        data = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": "malformed_json"}, status=400)
    return JsonResponse({"received": True, "kind": data.get("kind")})


urlpatterns = [path("bench/bare/", bare), *product_urlpatterns]
