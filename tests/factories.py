"""factory_boy factories. Placeholder text only: clinical statements live in curriculum/content/."""

import datetime as dt

import factory

from accounts.models import User
from curriculum.models import Course, Lesson, LessonVersion, Objective


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"learner{n}@example.org")
    full_name = factory.Sequence(lambda n: f"Learner Number {n}")
    profession = User.Profession.PHYSICIAN
    password = factory.PostGenerationMethodCall("set_password", "correct-horse-battery")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class CourseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Course

    slug = factory.Sequence(lambda n: f"course-{n}")
    title = factory.Sequence(lambda n: f"Course {n}")
    summary = "A placeholder summary."
    description_html = "<p>Placeholder description.</p>"
    estimated_minutes = 60
    target_audience = "Placeholder audience."
    release_date = dt.date(2026, 1, 1)
    review_date = dt.date(2026, 1, 1)
    expiry_date = dt.date(2028, 1, 1)
    faculty = factory.LazyFunction(lambda: [{"name": "Placeholder Faculty", "role": "faculty", "credentials": "", "disclosure": "None."}])
    commercial_support = "None."
    accreditation_notice = "Not accredited."
    hardware_software = "A browser."
    privacy = "Placeholder privacy."


class LessonFactory(factory.django.DjangoModelFactory):
    """A published lesson with one version (pass course=...)."""

    class Meta:
        model = Lesson
        skip_postgeneration_save = True

    course = factory.SubFactory(CourseFactory)
    slug = factory.Sequence(lambda n: f"lesson-{n}")
    position = factory.Sequence(lambda n: n + 1)

    @factory.post_generation
    def version(obj, create, extracted, **kwargs):
        if not create:
            return
        version = LessonVersion.objects.create(
            lesson=obj,
            number=1,
            title=f"Lesson title {obj.slug}",
            estimated_minutes=10,
            last_reviewed=dt.date(2026, 1, 1),
            objectives=[{"key": f"L{obj.position}.1", "text": "Placeholder objective."}],
            references=[{"number": 1, "key": "ref", "citation": "Placeholder citation.", "pmid": "1", "doi": "", "url": ""}],
            source="---\n---\n",
            body_html="<h2 id=\"section\">Section</h2><p>Placeholder body.</p>",
            toc_html="<div class=\"toc\"><ul><li><a href=\"#section\">Section</a></li></ul></div>",
            anchors=["section"],
            content_hash=f"hash-{obj.slug}",
        )
        obj.current_version = version
        obj.save(update_fields=["current_version"])
        Objective.objects.create(
            course=obj.course, lesson=obj, key=f"L{obj.position}.1-{obj.pk}", text="Placeholder objective.", position=1
        )
