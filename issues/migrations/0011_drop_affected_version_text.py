from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("issues", "0010_affected_version_rows")]

    operations = [migrations.RemoveField("issue", "affected_version_text")]
