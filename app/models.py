"""Every table model, imported in one place so that Alembic and the tests see the whole schema."""

from app.framework.models import Framework, FrameworkArea, FrameworkLevel, Skill, SkillMapping
from app.territory.models import Territory

__all__ = ["Framework", "FrameworkArea", "FrameworkLevel", "Skill", "SkillMapping", "Territory"]
