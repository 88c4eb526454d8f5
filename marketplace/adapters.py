from allauth.account.adapter import DefaultAccountAdapter


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
