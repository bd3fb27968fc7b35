"""factory_boy factories of the core models (apps add theirs beside their tests)."""

import factory
from django.contrib.auth import get_user_model

from coe.choices import FactoryKind, Role
from coe.models import Factory, Membership

PASSWORD = "test-password-4711"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class FactoryFactory(factory.django.DjangoModelFactory):
    """A digital factory (the name clash with factory_boy is the domain's word, not ours)."""

    class Meta:
        model = Factory
        django_get_or_create = ["slug"]

    slug = factory.Sequence(lambda n: f"factory-{n}")
    name = factory.LazyAttribute(lambda f: f.slug.replace("-", " ").title())
    kind = FactoryKind.MANUFACTURING
    business_unit = "Unit One"


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    factory = factory.SubFactory(FactoryFactory)
    role = Role.MEMBER
