//! Per-language chunk boundaries, kinds and symbols on realistic snippets.

mod common;

use common::{check, raw, shape, syms};
use weft_chunk::{chunk_text, ChunkOptions, Lang};

const RUST: &str = r#"use std::fmt;
use std::io::{self, Read};

/// A token.
#[derive(Debug, Clone)]
pub struct Token {
    pub kind: u8,
    pub text: String,
}

impl Token {
    /// Makes a token.
    pub fn new(kind: u8, text: String) -> Self {
        Token { kind, text }
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }
}

pub struct Parser {
    src: String,
    pos: usize,
}

impl Parser {
    /// Parses everything.
    pub fn parse(&mut self) -> Vec<Token> {
        let mut out = Vec::new();
        while self.pos < self.src.len() {
            let c = self.src.as_bytes()[self.pos];
            if c == b' ' {
                self.pos += 1;
                continue;
            }
            out.push(Token::new(c, String::new()));
            self.pos += 1;
        }
        out
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn bump(&mut self) {
        self.pos += 1;
    }
}

fn main() {
    let mut p = Parser { src: String::new(), pos: 0 };
    let _ = p.parse();
}
"#;

#[test]
fn rust() {
    let out = check(Lang::Rust, RUST, &raw(500, 30));
    assert!(out.parsed);
    assert_eq!(
        shape(&out),
        vec![
            (1, 3, "block", None),
            (4, 10, "struct", Some("Token")),
            (11, 25, "impl", Some("Token")),
            (26, 30, "struct", Some("Parser")),
            (31, 46, "method", Some("Parser::parse")),
            (47, 50, "method", Some("Parser::peek")),
            (51, 55, "method", Some("Parser::bump")),
            (56, 59, "function", Some("main")),
        ]
    );
    // `impl Parser` is split: its first line merged into `parse`, its closing brace into
    // `bump`; members carry the container in their header.
    let parse = &out.chunks[4];
    assert_eq!(parse.header.as_deref(), Some("impl Parser"));
    assert_eq!(out.chunks[6].header.as_deref(), Some("impl Parser"));
    // `impl Token` fits: one chunk, no header.
    assert_eq!(out.chunks[2].header, None);
    assert_eq!(
        syms(&out),
        vec![
            ("struct", "Token", None),
            ("impl", "Token", None),
            ("method", "new", Some("Token")),
            ("method", "len", Some("Token")),
            ("method", "is_empty", Some("Token")),
            ("struct", "Parser", None),
            ("impl", "Parser", None),
            ("method", "parse", Some("Parser")),
            ("method", "peek", Some("Parser")),
            ("method", "bump", Some("Parser")),
            ("function", "main", None),
        ]
    );
    let new = &out.symbols[2];
    assert_eq!((new.start_line, new.end_line), (13, 15));

    // With the defaults everything small merges; the tiling holds.
    let merged = check(Lang::Rust, RUST, &ChunkOptions::default());
    assert!(merged.chunks.len() < out.chunks.len());
}

#[test]
fn rust_huge_function_is_split_in_parts() {
    let mut text = String::from("/// Big.\nfn parse(x: u32) -> u32 {\n    let mut y = 0;\n");
    for i in 0..40 {
        text.push_str(&format!("    if x > {i} {{\n        y += {i};\n    }}\n"));
    }
    text.push_str("    y\n}\n");
    let opts = raw(600, 30);
    let out = check(Lang::Rust, &text, &opts);
    assert!(out.chunks.len() >= 3);
    let n = out.chunks.len();
    for (i, c) in out.chunks.iter().enumerate() {
        assert_eq!(c.kind, "function");
        assert_eq!(c.symbol.as_deref(), Some("parse"));
        assert_eq!(
            c.header.as_deref(),
            Some(format!("fn parse (part {}/{n})", i + 1).as_str())
        );
        if i > 0 {
            // Cut at statement boundaries: every part but the first starts with an `if`.
            let first = text[c.start_byte..].lines().next().unwrap_or("");
            assert!(
                first.trim_start().starts_with("if") || first.trim() == "y",
                "{first:?}"
            );
        }
    }
}

const PYTHON: &str = r#"import os
import sys


class Repo(Base):
    """A repository."""

    kind = "git"

    @property
    def name(self):
        return os.path.basename(self.path)

    @staticmethod
    def open(path):
        if not os.path.isdir(path):
            raise ValueError(path)
        return Repo(path)

    def __repr__(self):
        return f"Repo({self.path!r})"


def main():
    print(Repo.open(sys.argv[1]).name)
"#;

#[test]
fn python() {
    let out = check(Lang::Python, PYTHON, &raw(200, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 4, "block", None),
            (5, 9, "class", Some("Repo")),
            (10, 13, "method", Some("Repo.name")),
            (14, 19, "method", Some("Repo.open")),
            (20, 23, "method", Some("Repo.__repr__")),
            (24, 25, "function", Some("main")),
        ]
    );
    assert_eq!(out.chunks[1].header.as_deref(), Some("class Repo"));
    assert_eq!(out.chunks[2].header.as_deref(), Some("class Repo"));
    assert_eq!(
        syms(&out),
        vec![
            ("class", "Repo", None),
            ("method", "name", Some("Repo")),
            ("method", "open", Some("Repo")),
            ("method", "__repr__", Some("Repo")),
            ("function", "main", None),
        ]
    );
    // Decorators belong to the method.
    assert_eq!(out.symbols[1].start_line, 10);
    let whole = check(Lang::Python, PYTHON, &ChunkOptions::default());
    assert_eq!(whole.chunks.len(), 1);
}

const TYPESCRIPT: &str = r#"import { Injectable } from "@angular/core";
import type { User } from "./user";

/** A shape. */
export interface Shape {
  area(): number;
  name: string;
}

@Injectable()
export class UserService {
  private users: User[] = [];

  constructor(private readonly http: HttpClient) {}

  async load(id: string): Promise<User> {
    const user = await this.http.get<User>(`/users/${id}`);
    this.users.push(user);
    return user;
  }

  count(): number {
    return this.users.length;
  }
}

export function area(s: Shape): number {
  return s.area();
}

export const double = (x: number) => x * 2;
type Id = string;
"#;

#[test]
fn typescript_and_tsx() {
    for lang in [Lang::TypeScript, Lang::Tsx] {
        let out = check(lang, TYPESCRIPT, &raw(200, 30));
        assert_eq!(
            shape(&out),
            vec![
                (1, 1, "block", None),
                (2, 3, "block", None),
                (4, 9, "interface", Some("Shape")),
                (10, 11, "class", Some("UserService")),
                (12, 13, "class", Some("UserService")),
                (14, 15, "method", Some("UserService.constructor")),
                (16, 21, "method", Some("UserService.load")),
                (22, 26, "method", Some("UserService.count")),
                (27, 30, "function", Some("area")),
                (31, 32, "function", Some("double")),
            ],
            "{lang:?}"
        );
        assert_eq!(out.chunks[6].header.as_deref(), Some("class UserService"));
        let names: Vec<_> = syms(&out).into_iter().map(|s| s.1).collect();
        assert_eq!(
            names,
            vec![
                "Shape",
                "area",
                "UserService",
                "constructor",
                "load",
                "count",
                "area",
                "double",
                "Id"
            ]
        );
    }
}

const JAVASCRIPT: &str = r#"const fs = require("fs");

// Greets.
function hello(name) {
  return "hi " + name;
}

class Greeter {
  greet() {
    return hello("x");
  }
}

module.exports = { hello, Greeter };
"#;

#[test]
fn javascript() {
    let out = check(Lang::JavaScript, JAVASCRIPT, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 2, "block", None),
            (3, 7, "function", Some("hello")),
            (8, 13, "class", Some("Greeter")),
            (14, 14, "block", None),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("function", "hello", None),
            ("class", "Greeter", None),
            ("method", "greet", Some("Greeter")),
        ]
    );
}

const GO: &str = r#"package server

import (
	"fmt"
	"net/http"
)

// Server serves HTTP.
type Server struct {
	addr string
}

// Start starts it.
func (s *Server) Start() error {
	return http.ListenAndServe(s.addr, nil)
}

func New(addr string) *Server {
	fmt.Println(addr)
	return &Server{addr: addr}
}
"#;

#[test]
fn go() {
    let out = check(Lang::Go, GO, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 7, "block", None),
            (8, 12, "struct", Some("Server")),
            (13, 17, "method", Some("Server.Start")),
            (18, 21, "function", Some("New")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("struct", "Server", None),
            ("method", "Start", Some("Server")),
            ("function", "New", None),
        ]
    );
}

const JAVA: &str = r#"package com.example;

import java.util.List;

/** A repository. */
@Entity
public class Repo {
    private final String path;

    public Repo(String path) {
        this.path = path;
    }

    @Override
    public String toString() {
        return "Repo(" + path + ")";
    }
}
"#;

#[test]
fn java() {
    let out = check(Lang::Java, JAVA, &raw(150, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 2, "block", None),
            (3, 4, "block", None),
            (5, 7, "class", Some("Repo")),
            (8, 9, "class", Some("Repo")),
            (10, 13, "method", Some("Repo.Repo")),
            (14, 18, "method", Some("Repo.toString")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("class", "Repo", None),
            ("method", "Repo", Some("Repo")),
            ("method", "toString", Some("Repo")),
        ]
    );
}

const C: &str = r#"#include <stdio.h>
#ifndef POINT_H
#define POINT_H

/* A point. */
struct point {
    int x;
    int y;
};

typedef struct point point_t;

static int *get(void) {
    return 0;
}

int main(int argc, char **argv) {
    printf("%d\n", argc);
    return 0;
}

#endif
"#;

#[test]
fn c() {
    let out = check(Lang::C, C, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 4, "block", None),
            (5, 10, "struct", Some("point")),
            (11, 12, "type", Some("point_t")),
            (13, 16, "function", Some("get")),
            (17, 22, "function", Some("main")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("struct", "point", None),
            ("type", "point_t", None),
            ("function", "get", None),
            ("function", "main", None),
        ]
    );
}

const CPP: &str = r#"#include <vector>

namespace geo {

class Shape {
public:
    virtual ~Shape() = default;
    virtual double area() const = 0;
    double twice() const {
        return 2 * area();
    }
};

template <typename T>
T max(T a, T b) {
    return a > b ? a : b;
}

}  // namespace geo

double geo::Shape::half() const { return area() / 2; }
"#;

#[test]
fn cpp() {
    let out = check(Lang::Cpp, CPP, &raw(100, 30));
    let s = shape(&out);
    assert_eq!(s[0], (1, 2, "block", None));
    assert_eq!(s[1], (3, 4, "module", Some("geo")));
    assert!(
        s.contains(&(9, 13, "method", Some("geo::Shape::twice"))),
        "{s:?}"
    );
    assert!(s.contains(&(14, 18, "function", Some("geo::max"))), "{s:?}");
    assert!(s.contains(&(19, 20, "module", Some("geo"))), "{s:?}");
    assert_eq!(
        s[s.len() - 1],
        (21, 21, "function", Some("geo::Shape::half"))
    );
    assert_eq!(
        syms(&out),
        vec![
            ("module", "geo", None),
            ("class", "Shape", Some("geo")),
            ("method", "~Shape", Some("geo::Shape")),
            ("method", "twice", Some("geo::Shape")),
            ("function", "max", Some("geo")),
            ("function", "geo::Shape::half", None),
        ]
    );
    let twice = out
        .chunks
        .iter()
        .find(|c| c.symbol.as_deref() == Some("geo::Shape::twice"));
    assert_eq!(
        twice.and_then(|c| c.header.as_deref()),
        Some("namespace geo > class Shape")
    );
}

const MARKDOWN: &str = r#"Intro paragraph.

# Weft

Weft is a workspace.

## Install

Run this:

```sh
# not a heading
cargo install weft
```

## Usage

Use it.
"#;

#[test]
fn markdown() {
    let out = check(Lang::Markdown, MARKDOWN, &raw(60, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 2, "block", None),
            (3, 6, "section", Some("Weft")),
            (7, 10, "section", Some("Weft > Install")),
            (11, 15, "section", Some("Weft > Install")),
            (16, 18, "section", Some("Weft > Usage")),
        ]
    );
    assert_eq!(out.chunks[2].header.as_deref(), Some("Weft > Install"));
    assert_eq!(
        syms(&out),
        vec![
            ("section", "Weft", None),
            ("section", "Install", Some("Weft")),
            ("section", "Usage", Some("Weft")),
        ]
    );
}

const TOML: &str = r#"# Manifest.
[package]
name = "weft"
version = "0.1.0"

[dependencies]
serde = "1"
tokio = { version = "1", features = ["full"] }

[[bin]]
name = "weft"
"#;

#[test]
fn toml() {
    let out = check(Lang::Toml, TOML, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 5, "table", Some("package")),
            (6, 9, "table", Some("dependencies")),
            (10, 11, "table", Some("bin")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("table", "package", None),
            ("table", "dependencies", None),
            ("table", "bin", None),
        ]
    );
}

const JSON: &str = r#"{
  "name": "weft",
  "scripts": {
    "build": "tsc",
    "test": "jest"
  },
  "files": ["a", "b"]
}
"#;

#[test]
fn json() {
    let out = check(Lang::Json, JSON, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 2, "key", Some("name")),
            (3, 6, "key", Some("scripts")),
            (7, 8, "key", Some("files")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("key", "name", None),
            ("key", "scripts", None),
            ("key", "files", None)
        ]
    );
}

const YAML: &str = r#"# CI
name: ci
on:
  push:
    branches: [main]
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: cargo test
"#;

#[test]
fn yaml() {
    let out = check(Lang::Yaml, YAML, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![(1, 5, "key", Some("on")), (6, 10, "key", Some("jobs")),]
    );
    assert_eq!(
        syms(&out),
        vec![
            ("key", "name", None),
            ("key", "on", None),
            ("key", "jobs", None)
        ]
    );
}

const SHELL: &str = r#"#!/bin/bash
set -euo pipefail

# Says hello.
hello() {
  echo "hello $1"
}

function world {
  echo world
}

hello "$@"
"#;

#[test]
fn shell() {
    let out = check(Lang::Shell, SHELL, &raw(400, 30));
    assert_eq!(
        shape(&out),
        vec![
            (1, 3, "block", None),
            (4, 8, "function", Some("hello")),
            (9, 13, "function", Some("world")),
        ]
    );
    assert_eq!(
        syms(&out),
        vec![("function", "hello", None), ("function", "world", None)]
    );
}

#[test]
fn text_is_line_windows() {
    let text = "line\n".repeat(150);
    let out = check(Lang::Text, &text, &ChunkOptions::default());
    assert!(!out.parsed);
    assert_eq!(out.chunks.len(), 3);
    assert!(out.chunks.iter().all(|c| c.kind == "text"));
}

#[test]
fn every_sample_tiles_with_every_option_set() {
    let samples = [
        (Lang::Rust, RUST),
        (Lang::Python, PYTHON),
        (Lang::TypeScript, TYPESCRIPT),
        (Lang::Tsx, TYPESCRIPT),
        (Lang::JavaScript, JAVASCRIPT),
        (Lang::Go, GO),
        (Lang::Java, JAVA),
        (Lang::C, C),
        (Lang::Cpp, CPP),
        (Lang::Markdown, MARKDOWN),
        (Lang::Toml, TOML),
        (Lang::Json, JSON),
        (Lang::Yaml, YAML),
        (Lang::Shell, SHELL),
    ];
    for (lang, text) in samples {
        for max_bytes in [1, 10, 50, 100, 300, 1536, 100_000] {
            for max_lines in [0, 1, 2, 3, 5, 10, 60, 10_000] {
                for min_bytes in [0, 50, 256, 100_000] {
                    let opts = ChunkOptions {
                        max_bytes,
                        max_lines,
                        min_bytes,
                    };
                    let out = check(lang, text, &opts);
                    assert!(out.parsed, "{lang:?}");
                    // Same symbols whatever the sizes.
                    let base = chunk_text(lang, text, &ChunkOptions::default());
                    assert_eq!(syms(&out), syms(&base), "{lang:?} {opts:?}");
                }
            }
            // CRLF line ends too.
            let crlf = text.replace('\n', "\r\n");
            check(lang, &crlf, &raw(max_bytes, 10));
        }
    }
}
