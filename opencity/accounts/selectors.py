from allauth.account.models import EmailAddress


def has_verified_email(user) -> bool:
    """True if the person confirmed an e-mail address; remembered on the user for the request."""
    if not user or not user.is_authenticated:
        return False
    if not hasattr(user, "_opencity_email_verified"):
        user._opencity_email_verified = EmailAddress.objects.filter(
            user_id=user.pk, verified=True
        ).exists()
    return user._opencity_email_verified
