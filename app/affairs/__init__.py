"""Community affairs (诉求): cases from intake to closure, their categories, attachments,
Open311, and the lobby screen's 查进度 and 语音留言."""
