import CGuestFS
