"""Question banks of the demo quizzes: short code-judgment questions with one unambiguous answer.

Each entry: (kind, prompt, code, options [(key, text, code)], correct keys, weight)."""

PRINT = "What does this print?"

PYTHON = [
    ("single", PRINT, "xs = [1, 2, 3]\nys = xs\nys.append(4)\nprint(len(xs))",
     [("a", "3", ""), ("b", "4", ""), ("c", "It raises an error", ""), ("d", "0", "")], ["b"], 1),
    ("single", "With items = [1, 2, 3] and n = 1, what is wrong with this function?",
     "def last_n(items, n):\n    return items[len(items) - n - 1:]",
     [("a", "It returns n + 1 items (off by one)", ""), ("b", "Nothing: it returns the last n items", ""),
      ("c", "It raises IndexError", ""), ("d", "It returns an empty list", "")], ["a"], 2),
    ("pick_better", "Which function returns a fresh list on every call that omits bucket?", "",
     [("a", "", "def add(item, bucket=[]):\n    bucket.append(item)\n    return bucket"),
      ("b", "", "def add(item, bucket=None):\n    if bucket is None:\n        bucket = []\n    bucket.append(item)\n"
                "    return bucket")], ["b"], 2),
    ("single", PRINT, "print([i * 2 for i in range(3)])",
     [("a", "[0, 2, 4]", ""), ("b", "[2, 4, 6]", ""), ("c", "[0, 2, 4, 6]", ""), ("d", "[0, 1, 2, 0, 1, 2]", "")],
     ["a"], 1),
    ("multiple", "Which of these expressions are True? (select all)", "",
     [("a", "", "0.1 + 0.2 == 0.3"), ("b", "", "[] == []"), ("c", "", '"a" * 3 == "aaa"'), ("d", "", "bool([0])"),
      ("e", "", "None == False")], ["b", "c", "d"], 2),
    ("single", PRINT, 'd = {"a": 1}\nprint(d.get("b", 0) + d["a"])',
     [("a", "1", ""), ("b", "It raises KeyError", ""), ("c", "None", ""), ("d", "0", "")], ["a"], 1),
    ("pick_better", "Which binary search finds 5 in [5]?", "",
     [("a", "", "def contains(xs, x):\n    lo, hi = 0, len(xs) - 1\n    while lo < hi:\n        mid = (lo + hi) // 2\n"
                "        if xs[mid] == x:\n            return True\n        if xs[mid] < x:\n            lo = mid + 1\n"
                "        else:\n            hi = mid - 1\n    return False"),
      ("b", "", "def contains(xs, x):\n    lo, hi = 0, len(xs) - 1\n    while lo <= hi:\n        mid = (lo + hi) // 2\n"
                "        if xs[mid] == x:\n            return True\n        if xs[mid] < x:\n            lo = mid + 1\n"
                "        else:\n            hi = mid - 1\n    return False")], ["b"], 2),
    ("single", PRINT, "def f(*args, **kwargs):\n    return len(args), sorted(kwargs)\n\nprint(f(1, 2, x=3))",
     [("a", "(2, ['x'])", ""), ("b", "(3, [])", ""), ("c", "(2, {'x': 3})", ""), ("d", "It raises TypeError", "")],
     ["a"], 1),
    ("single", PRINT, "fs = [lambda: i for i in range(3)]\nprint([f() for f in fs])",
     [("a", "[0, 1, 2]", ""), ("b", "[2, 2, 2]", ""), ("c", "[0, 0, 0]", ""), ("d", "It raises NameError", "")],
     ["b"], 2),
    ("multiple", "Which give a reversed copy of xs and leave xs unchanged? (select all)", "",
     [("a", "", "xs[::-1]"), ("b", "", "list(reversed(xs))"), ("c", "", "xs.reverse()"),
      ("d", "", "sorted(xs, reverse=True)")], ["a", "b"], 2),
    ("single", PRINT, 's = "hello"\nprint(s[1:-1])',
     [("a", "ell", ""), ("b", "ello", ""), ("c", "hell", ""), ("d", "hel", "")], ["a"], 1),
    ("pick_better", "Which closes the file even when read() raises?", "",
     [("a", "", "f = open(path)\ndata = f.read()\nf.close()"),
      ("b", "", "with open(path) as f:\n    data = f.read()")], ["b"], 1),
    ("single", PRINT, "print(7 // -2)",
     [("a", "-3", ""), ("b", "-4", ""), ("c", "-3.5", ""), ("d", "3", "")], ["b"], 1),
]

JAVASCRIPT = [
    ("single", PRINT, 'console.log(["1", "2", "3"].map(parseInt));',
     [("a", "[1, 2, 3]", ""), ("b", "[1, NaN, NaN]", ""), ("c", "[NaN, NaN, NaN]", ""), ("d", "[1, 2, NaN]", "")],
     ["b"], 2),
    ("single", PRINT, "console.log(0.1 + 0.2 === 0.3);",
     [("a", "true", ""), ("b", "false", ""), ("c", "undefined", ""), ("d", "It throws", "")], ["b"], 1),
    ("pick_better", "Which loop logs 0, 1, 2?", "",
     [("a", "", "for (var i = 0; i < 3; i++) {\n  setTimeout(() => console.log(i));\n}"),
      ("b", "", "for (let i = 0; i < 3; i++) {\n  setTimeout(() => console.log(i));\n}")], ["b"], 2),
    ("single", PRINT, "console.log(typeof null);",
     [("a", '"null"', ""), ("b", '"object"', ""), ("c", '"undefined"', ""), ("d", '"number"', "")], ["b"], 1),
    ("single", "What does lastItem([1, 2, 3]) return?", "function lastItem(arr) {\n  return arr[arr.length];\n}",
     [("a", "3", ""), ("b", "undefined", ""), ("c", "null", ""), ("d", "It throws RangeError", "")], ["b"], 2),
    ("multiple", "Which values are truthy? (select all)", "",
     [("a", "", "[]"), ("b", "", '"0"'), ("c", "", "0"), ("d", "", "NaN")], ["a", "b"], 2),
    ("single", PRINT, "console.log([10, 9, 1].sort());",
     [("a", "[1, 9, 10]", ""), ("b", "[1, 10, 9]", ""), ("c", "[10, 9, 1]", ""), ("d", "[9, 10, 1]", "")], ["b"], 1),
    ("pick_better", "Which leaves original unchanged?", "",
     [("a", "", "const copy = original;\ncopy.x = 1;"), ("b", "", "const copy = { ...original };\ncopy.x = 1;")],
     ["b"], 1),
    ("single", PRINT, "const a = [1, 2, 3];\nconst b = a.slice(1);\nb[0] = 9;\nconsole.log(a[1]);",
     [("a", "2", ""), ("b", "9", ""), ("c", "undefined", ""), ("d", "1", "")], ["a"], 1),
    ("single", PRINT, 'console.log("5" - 2, "5" + 2);',
     [("a", "3 52", ""), ("b", "3 7", ""), ("c", "52 7", ""), ("d", "NaN 52", "")], ["a"], 1),
    ("pick_better", "Which returns the sum of the prices (price returns a Promise)?", "",
     [("a", "", "async function total(ids) {\n  let sum = 0;\n  ids.forEach(async (id) => {\n"
                "    sum += await price(id);\n  });\n  return sum;\n}"),
      ("b", "", "async function total(ids) {\n  let sum = 0;\n  for (const id of ids) {\n"
                "    sum += await price(id);\n  }\n  return sum;\n}")], ["b"], 2),
    ("multiple", "Which return a new array and leave arr unchanged? (select all)", "",
     [("a", "", "arr.map((x) => x)"), ("b", "", "arr.concat([1])"), ("c", "", "arr.push(1)"),
      ("d", "", "arr.splice(0, 1)")], ["a", "b"], 2),
    ("single", "With arr = [1, 2, 3] and total = 0, what is total after the loop?",
     "for (let i = 0; i <= arr.length; i++) {\n  total += arr[i];\n}",
     [("a", "6", ""), ("b", "NaN", ""), ("c", "7", ""), ("d", "It throws TypeError", "")], ["b"], 2),
]
