#!/usr/bin/env python3
"""Turn an article corpus folder into a Hugo site that only writes RSS feeds.

usage: make_site.py CORPUS_DIR SITE_DIR [--base-url URL] [--limit N] [--builtin-rss]

The site is the Hugo reference for the feed publisher's benchmark:
  - one RSS feed for the home page (all published articles, newest first),
  - one RSS feed per topic (taxonomy "topic", front matter key "topics"),
  - at most --limit items per feed, no HTML pages, no sitemap/robots/404.

Each CORPUS_DIR/<name>.md becomes SITE_DIR/content/news/<name>.md. The front matter
is edited as text (no YAML round trip): the top-level `published: <bool>` line is
replaced by the equivalent `draft: <not bool>` line. Everything else is kept
byte for byte. Files without a `published:` key stay published, as in the
publisher. Hugo itself treats `published` as an (undocumented) inverse of `draft`
and warns once per page when both keys are present, so the key is replaced
rather than a `draft:` line added next to it.

By default a small RSS template is written (layouts/_default/rss.xml) so each
item carries what the publisher's RSS items carry: title, link (webUrl, else
originalUrl), guid (file name),
pubDate, description (excerpt), dc:creator (provider name), one category per
topic and the first image as media:content. --builtin-rss uses Hugo's built-in
RSS template instead; its <link> and <guid> come out empty because the
article pages are never rendered (no permalink), and <description> is the empty
summary. Unlike the publisher, Hugo keeps the ~0.3% of articles that have neither
webUrl nor originalUrl (they get an empty <link>).

Idempotent: rerunning rewrites only files whose content changed and removes
articles that are no longer in the corpus.
"""
import argparse
import os
import sys

HUGO_TOML = """\
baseURL = "{base_url}"
title = "Everyday News"
languageCode = "en"
# "taxonomy" is the /topics/ list page; the per-topic feeds are kind "term".
disableKinds = ["sitemap", "robotsTXT", "404", "taxonomy"]
ignoreErrors = ["error-disable-taxonomy"]
# The corpus spans 2013 to 2026; never drop an article for its date.
buildFuture = true
buildExpired = true
enableGitInfo = false
disableHugoGeneratorInject = true

[taxonomies]
  topic = "topics"

[frontmatter]
  date = ["publishedDateTime"]

# Hugo 0.111 ignores an empty list here (`page = []` means the default, HTML),
# so pages and the news section are kept from rendering by `_build.render =
# "never"` in content/news/_index.md and the taxonomy list page by disableKinds.
[outputs]
  home = ["RSS"]
  term = ["RSS"]

[services.rss]
  limit = {limit}
"""

# Every article in the "news" section: never rendered on its own, but listed.
CASCADE = """\
---
title: "News"
_build:
  render: never
  list: always
cascade:
  _build:
    render: never
    list: always
---
"""

RSS_XML = """\
{{- $pctx := . -}}
{{- if .IsHome -}}{{ $pctx = .Site }}{{- end -}}
{{- $pages := $pctx.RegularPages -}}
{{- $limit := .Site.Config.Services.RSS.Limit -}}
{{- if ge $limit 1 -}}{{- $pages = $pages | first $limit -}}{{- end -}}
{{- printf "<?xml version=\\"1.0\\" encoding=\\"utf-8\\" standalone=\\"yes\\"?>" | safeHTML }}
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/">
  <channel>
    <title>{{ if .IsHome }}{{ .Site.Title }}{{ else }}{{ .Title }} - {{ .Site.Title }}{{ end }}</title>
    <link>{{ .Permalink }}</link>
    <description>{{ if .IsHome }}All articles{{ else }}Articles about {{ .Title }}{{ end }}</description>
    <generator>Hugo</generator>
    <language>en</language>
    {{- if not .Date.IsZero }}
    <lastBuildDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</lastBuildDate>
    {{- end }}
    {{- with .OutputFormats.Get "RSS" }}
    {{ printf "<atom:link href=%q rel=\\"self\\" type=%q />" .Permalink .MediaType | safeHTML }}
    {{- end }}
    {{- range $pages }}
    {{- $link := .Params.webUrl | default .Params.originalUrl }}
    <item>
      <title>{{ .Title }}</title>
      <link>{{ $link }}</link>
      <guid isPermaLink="false">{{ .File.ContentBaseName }}</guid>
      <pubDate>{{ .Date.Format "Mon, 02 Jan 2006 15:04:05 -0700" | safeHTML }}</pubDate>
      {{- with .Params.provider }}{{ with .name }}
      <dc:creator>{{ . }}</dc:creator>
      {{- end }}{{ end }}
      {{- with .Params.excerpt }}
      <description>{{ . | html }}</description>
      {{- end }}
      {{- range .Params.topics }}
      <category>{{ . }}</category>
      {{- end }}
      {{- with .Params.images }}{{ with index . 0 }}
      <media:content url="{{ .url }}" medium="image"{{ with .width }} width="{{ . }}"{{ end }}{{ with .height }} height="{{ . }}"{{ end }} />
      {{- end }}{{ end }}
    </item>
    {{- end }}
  </channel>
</rss>
"""


def convert(text):
    """Return the article with `published: X` replaced by `draft: not X`."""
    if not text.startswith("---"):
        return text
    end = text.find("\n---", 3)
    if end < 0:
        return text
    head = text[:end]
    i = head.find("\npublished:")
    if i < 0:
        return text
    j = head.find("\n", i + 1)
    if j < 0:
        j = end
    value = head[i + len("\npublished:"):j].split("#", 1)[0].strip().strip("'\"").lower()
    if value in ("false", "no", "off", "n"):
        draft = "true"
    elif value in ("true", "yes", "on", "y"):
        draft = "false"
    else:
        return text  # leave odd values for Hugo to interpret
    return text[:i] + "\ndraft: " + draft + text[j:]


def write_if_changed(path, data):
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("site")
    ap.add_argument("--base-url", default="http://127.0.0.1:8000/")
    ap.add_argument("--limit", type=int, default=50)
    ap.add_argument("--builtin-rss", action="store_true")
    a = ap.parse_args()

    news = os.path.join(a.site, "content", "news")
    layouts = os.path.join(a.site, "layouts", "_default")
    os.makedirs(news, exist_ok=True)
    os.makedirs(layouts, exist_ok=True)
    write_if_changed(os.path.join(a.site, "hugo.toml"),
                     HUGO_TOML.format(base_url=a.base_url, limit=a.limit).encode())
    write_if_changed(os.path.join(news, "_index.md"), CASCADE.encode())
    rss = os.path.join(layouts, "rss.xml")
    if a.builtin_rss:
        if os.path.exists(rss):
            os.remove(rss)
    else:
        write_if_changed(rss, RSS_XML.encode())

    wanted = set()
    drafts = changed = 0
    with os.scandir(a.corpus) as it:
        for e in it:
            if not e.name.endswith(".md") or not e.is_file():
                continue
            wanted.add(e.name)
            with open(e.path, "rb") as f:
                text = f.read().decode("utf-8")
            out = convert(text)
            if "\ndraft: true" in out[:out.find("\n---", 3)]:
                drafts += 1
            changed += write_if_changed(os.path.join(news, e.name), out.encode("utf-8"))
    removed = 0
    for name in os.listdir(news):
        if name.endswith(".md") and name != "_index.md" and name not in wanted:
            os.remove(os.path.join(news, name))
            removed += 1
    print(f"articles={len(wanted)} drafts={drafts} written={changed} removed={removed} site={a.site}")


if __name__ == "__main__":
    sys.exit(main())
