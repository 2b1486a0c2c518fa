#!/usr/bin/env python3
"""Check a Hugo output folder built by run_hugo.sh against the corpus it came from.

usage: verify_output.py CORPUS_DIR OUTDIR   (needs PyYAML)

Recomputes, from the corpus, the 50 newest published articles overall and per topic
(drafts = `published: false` dropped; ties broken by file name as Hugo does) and
compares them, in order, with the <guid>s of OUTDIR/index.xml and
OUTDIR/topics/*/index.xml. Exit status 1 on any difference.
"""
import sys, os, collections, xml.etree.ElementTree as ET
import yaml
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
corpus, out = sys.argv[1], sys.argv[2]
arts=[]
for n in os.listdir(corpus):
    t=open(os.path.join(corpus,n),encoding='utf-8').read()
    fm=yaml.load(t.split('\n---',1)[0][3:], Loader=Loader)
    if fm.get('published', True) is False: continue
    arts.append((fm['publishedDateTime'], n[:-3], fm.get('topics') or []))
arts.sort(key=lambda a:(-a[0].timestamp(), a[1]))
def guids(p): return [i.findtext('guid') for i in ET.parse(p).getroot().iter('item')]
exp_home=[a[1] for a in arts[:50]]
got=guids(os.path.join(out,'index.xml'))
print('home match', got==exp_home, len(got))
bytopic=collections.defaultdict(list)
for a in arts:
    for t in a[2]: bytopic[t].append(a[1])
feeds=[d for d in os.listdir(os.path.join(out,'topics')) if os.path.isfile(os.path.join(out,'topics',d,'index.xml'))]
print('topics expected', len(bytopic), 'feeds', len(feeds))
# match by title
bad=0; sizes=[]
for d in feeds:
    root=ET.parse(os.path.join(out,'topics',d,'index.xml')).getroot()
    title=root.find('channel/title').text.rsplit(' - Everyday News',1)[0]
    g=[i.findtext('guid') for i in root.iter('item')]
    sizes.append(len(g))
    if g!=bytopic[title][:50]: bad+=1; print('mismatch', d, title, len(g), len(bytopic[title]))
print('mismatching feeds', bad, 'items min/max', min(sizes), max(sizes), 'full(50)', sum(s==50 for s in sizes))
sys.exit(1 if bad or got != exp_home or len(feeds) != len(bytopic) else 0)
