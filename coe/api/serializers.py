from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from coe.api.fields import FactoryField, UserField
from coe.choices import Role
from coe.models import Factory, Membership
from coe.scoping import is_coe_staff
from coe.services import user_save

User = get_user_model()


class FactorySerializer(serializers.ModelSerializer):
    business_owners = serializers.SerializerMethodField()
    url = serializers.HyperlinkedIdentityField(view_name="api:factory-detail", lookup_field="slug")

    class Meta:
        model = Factory
        fields = [
            "id",
            "url",
            "slug",
            "name",
            "kind",
            "business_unit",
            "site",
            "region",
            "description",
            "currency",
            "audit_cadence_months",
            "network_allowlist",
            "business_owners",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["created_at", "updated_at"]

    def get_business_owners(self, obj: Factory) -> list[str]:
        owners = getattr(obj, "owner_memberships", None)
        if owners is None:
            owners = obj.memberships.filter(role=Role.BUSINESS_OWNER).select_related("user")
        return [m.user.username for m in owners]

    def validate_currency(self, value: str) -> str:
        value = value.upper()
        if len(value) != 3 or not value.isalpha():
            raise serializers.ValidationError("Use a three-letter ISO 4217 code, e.g. EUR.")
        return value

    def validate_network_allowlist(self, value):
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise serializers.ValidationError("A list of hosts or CIDRs, e.g. ['10.20.0.0/16'].")
        return value


class MembershipSerializer(serializers.ModelSerializer):
    user = UserField()
    factory = FactoryField()

    class Meta:
        model = Membership
        fields = ["id", "user", "factory", "role", "created_at"]
        read_only_fields = ["created_at"]


class UserMembershipSerializer(serializers.ModelSerializer):
    factory = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = Membership
        fields = ["factory", "role"]


class UserSerializer(serializers.ModelSerializer):
    password = serializers.CharField(
        write_only=True, required=False, style={"input_type": "password"}, trim_whitespace=False
    )
    is_coe_staff = serializers.BooleanField(required=False)
    memberships = UserMembershipSerializer(many=True, read_only=True)

    class Meta:
        model = User
        fields = [
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "is_active",
            "is_coe_staff",
            "password",
            "memberships",
            "date_joined",
        ]
        read_only_fields = ["date_joined"]

    def to_representation(self, instance):
        data = super().to_representation(instance)
        data["is_coe_staff"] = is_coe_staff(instance)
        return data

    def validate(self, attrs):
        password = attrs.get("password")
        if password:
            candidate = self.instance or User(
                **{k: v for k, v in attrs.items() if k in {"username", "email", "first_name"}}
            )
            try:
                validate_password(password, candidate)
            except DjangoValidationError as exc:
                raise serializers.ValidationError({"password": exc.messages}) from exc
        return attrs

    def create(self, validated_data):
        password = validated_data.pop("password", None)
        staff = validated_data.pop("is_coe_staff", None)
        return user_save(data=validated_data, password=password, is_coe_staff=staff)

    def update(self, instance, validated_data):
        password = validated_data.pop("password", None)
        staff = validated_data.pop("is_coe_staff", None)
        return user_save(user=instance, data=validated_data, password=password, is_coe_staff=staff)
