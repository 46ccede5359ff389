//! The tree-sitter grammar of each [`Lang`].

use crate::Lang;
use tree_sitter::Language;

/// The tree-sitter grammar for `lang`, or `None` for [`Lang::Text`].
pub fn language(lang: Lang) -> Option<Language> {
    let f = match lang {
        Lang::Rust => tree_sitter_rust::LANGUAGE,
        Lang::Python => tree_sitter_python::LANGUAGE,
        Lang::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT,
        Lang::Tsx => tree_sitter_typescript::LANGUAGE_TSX,
        Lang::JavaScript => tree_sitter_javascript::LANGUAGE,
        Lang::Go => tree_sitter_go::LANGUAGE,
        Lang::Java => tree_sitter_java::LANGUAGE,
        Lang::C => tree_sitter_c::LANGUAGE,
        Lang::Cpp => tree_sitter_cpp::LANGUAGE,
        Lang::Markdown => tree_sitter_md::LANGUAGE,
        Lang::Toml => tree_sitter_toml_ng::LANGUAGE,
        Lang::Json => tree_sitter_json::LANGUAGE,
        Lang::Yaml => tree_sitter_yaml::LANGUAGE,
        Lang::Shell => tree_sitter_bash::LANGUAGE,
        Lang::Text => return None,
    };
    Some(f.into())
}
