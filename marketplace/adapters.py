from types import SimpleNamespace

from allauth.account.adapter import DefaultAccountAdapter
from django.conf import settings


class AccountAdapter(DefaultAccountAdapter):
    """Freelancers sign themselves up; staff roles are only ever granted by ops in the admin."""

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.email = user.email.lower()
        user.is_staff = False
        user.is_superuser = False
        if commit:
            user.save()
        return user

    def send_mail(self, template_prefix, email, context):
        # Without django.contrib.sites allauth names the site after the request's host ("Hello from
        # 127.0.0.1:8600!"); mails greet with settings.SITE_NAME and sign with the public web address.
        site = SimpleNamespace(name=settings.SITE_NAME, domain=f"{settings.PUBLIC_BASE_URL}/")
        return super().send_mail(template_prefix, email, {**context, "current_site": site})

    def get_login_redirect_url(self, request):
        # Staff work in the admin; freelancers in the web app (settings.LOGIN_REDIRECT_URL). A ?next= wins.
        if request.user.is_authenticated and request.user.is_staff:
            return "/admin/"
        return super().get_login_redirect_url(request)
