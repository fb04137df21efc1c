pub mod llb;
