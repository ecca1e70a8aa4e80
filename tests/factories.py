"""factory_boy factories shared by every test module."""

from __future__ import annotations

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from contacts.models import Branch, ChannelCode, Customer, FollowRelation, Staff
from groups.models import CustomerGroup, GroupMember, GroupPool, Region
from tagging.models import Tag, TagGroup


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.Faker("name", locale="zh_CN")
    password = factory.PostGenerationMethodCall("set_password", "Secret-pass-1")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for role in extracted:
                self.groups.add(Group.objects.get(name=str(role)))
        if create:
            self.save()


class BranchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Branch
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"BR{n:03d}")
    name = factory.Sequence(lambda n: f"第{n}支行")


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Staff
        django_get_or_create = ("userid",)

    userid = factory.Sequence(lambda n: f"staff{n}")
    name = factory.Faker("name", locale="zh_CN")
    branch = factory.SubFactory(BranchFactory)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("external_userid",)

    external_userid = factory.Sequence(lambda n: f"wmCUST{n:06d}")
    name = factory.Faker("name", locale="zh_CN")
    first_added_at = factory.LazyFunction(timezone.now)


class FollowRelationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = FollowRelation

    customer = factory.SubFactory(CustomerFactory)
    staff = factory.SubFactory(StaffFactory)
    added_at = factory.LazyFunction(timezone.now)


class ChannelCodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChannelCode

    name = factory.Sequence(lambda n: f"渠道{n}")
    state = factory.Sequence(lambda n: f"ch{n}")


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"R{n:05d}")
    name = factory.Sequence(lambda n: f"地区{n}")
    level = Region.Level.CITY


class GroupPoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupPool

    name = factory.Sequence(lambda n: f"福利群池{n}")
    region = factory.SubFactory(RegionFactory)
    room_base_name = factory.LazyAttribute(lambda o: o.name)


class CustomerGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerGroup
        django_get_or_create = ("chat_id",)

    chat_id = factory.Sequence(lambda n: f"wrCHAT{n:06d}")
    name = factory.Sequence(lambda n: f"福利群{n}")
    owner = factory.SubFactory(StaffFactory)
    owner_userid = factory.LazyAttribute(lambda o: o.owner.userid if o.owner else "")


class GroupMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GroupMember

    group = factory.SubFactory(CustomerGroupFactory)
    customer = factory.SubFactory(CustomerFactory)
    userid = factory.LazyAttribute(lambda o: o.customer.external_userid)
    member_type = GroupMember.MemberType.CUSTOMER
    join_time = factory.LazyFunction(timezone.now)


class TagGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TagGroup
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"标签组{n}")


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag

    group = factory.SubFactory(TagGroupFactory)
    name = factory.Sequence(lambda n: f"标签{n}")
