//! Terminals: one supervised actor per shell Weft starts (portable-pty), shell integration
//! (OSC 133 / OSC 7), the command history in `terminal_commands`. (Being written.)
