"""The conformance site as a one-file Django project, served by `runserver`.

python django_app.py runserver 127.0.0.1:PORT --noreload
"""
import os
import sys
import time

from django.conf import settings
from django.http import HttpResponse, HttpResponseRedirect
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="conformance-only",
    MIDDLEWARE=[],
    LOGGING_CONFIG=None,
)

sys.path.insert(0, os.path.dirname(__file__))
from app import FORM, PAGE, log  # noqa: E402


def logged(view):
    @csrf_exempt
    def wrapper(request):
        started = time.monotonic()
        response = view(request)
        log(request.method, request.path, f"{response.status_code} x", started)
        return response

    return wrapper


@logged
def home(request):
    return HttpResponse(PAGE)


@logged
def redirect(request):
    return HttpResponseRedirect("/landing")


@logged
def landing(request):
    return HttpResponse(b"<html><body>landed</body></html>")


@logged
def form(request):
    return HttpResponse(b"posted" if request.method == "POST" else FORM)


urlpatterns = [
    path("", home),
    path("redirect", redirect),
    path("landing", landing),
    path("form", form),
]

if __name__ == "__main__":
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
