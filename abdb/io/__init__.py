"""Parsers: files in, domain records (or rejections with file, line and reason) out. Pure Python."""
